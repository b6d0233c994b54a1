"""Print template.yaml as the SAM transform makes it: CloudFormation JSON.

It runs the aws-sam-translator that ships with cfn-lint the way cfn-lint
does (cfn-lint's decoder and its Transform wrapper: local CodeUri and
DefinitionUri replaced by S3 placeholders, AWS managed policies from
cfn-lint's offline list), so the Go tests of infra/template assert on the
very document cfn-lint checks.

    python3 transform.py TEMPLATE [REGION]
"""

import json
import sys

from cfnlint.decode import decode
from cfnlint.template.transforms._sam import Transform


def main() -> int:
    path = sys.argv[1]
    region = sys.argv[2] if len(sys.argv) > 2 else "eu-west-1"
    template, matches = decode(path)
    if matches:
        for m in matches:
            print(f"{path}: {m}", file=sys.stderr)
        return 2
    t = Transform(path, template, region)
    matches = t.transform_template()
    if matches:
        for m in matches:
            print(f"{path}: {m.message}", file=sys.stderr)
        return 2
    json.dump(t.template(), sys.stdout, indent=1, sort_keys=True, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
