#!/usr/bin/env python3
"""Print a SAM template as CloudFormation sees it after the
AWS::Serverless-2016-10-31 transform, as JSON on stdout.

    python3 infra/samtransform/transform.py template.yaml [region]

Offline: it uses the aws-sam-translator that ships with cfn-lint, through
cfn-lint's own wrapper (local CodeUri/DefinitionUri are replaced by dummy
S3 locations, AWS managed policy names come from cfn-lint's bundled map).
Intrinsic functions (Ref, Fn::Sub, Fn::GetAtt, Fn::If) stay as they are:
the caller resolves them. Exit status 1 with the translator's messages on
stderr when the template does not transform.
"""

import json
import sys

from cfnlint.decode import decode
from cfnlint.template.transforms._sam import Transform


def main(argv):
    if len(argv) < 2:
        print("usage: transform.py TEMPLATE [REGION]", file=sys.stderr)
        return 2
    path = argv[1]
    region = argv[2] if len(argv) > 2 else "us-east-1"
    template, matches = decode(path)
    if matches or template is None:
        for m in matches:
            print(f"{path}: {m}", file=sys.stderr)
        return 1
    t = Transform(path, template, region)
    matches = t.transform_template()
    if matches:
        for m in matches:
            print(f"{path}: {m.message}", file=sys.stderr)
        return 1
    json.dump(t._template, sys.stdout, indent=1, sort_keys=True, default=str)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
