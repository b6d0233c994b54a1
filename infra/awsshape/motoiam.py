#!/usr/bin/env python3
"""moto_server, with SigV4 checked as AWS canonicalizes query strings.

    python3 infra/awsshape/motoiam.py -H 127.0.0.1 -p PORT

moto 5.2.1 recomputes a request's signature from the URL werkzeug gives
it, where percent-escapes in the query are already decoded (prefix=a%2Fb
arrives as prefix=a/b), and botocore uses that query verbatim as the
canonical query string. SigV4 canonicalizes each name and value
URI-encoded (RFC 3986 unreserved characters kept), as the SDKs sign: so a
ListObjectsV2 with a prefix holding '/' fails with SignatureDoesNotMatch
(known upstream: getmoto/moto issue 5948, fix proposed in 5949, open).
This re-encodes the query before moto signs; nothing else changes.
"""

import sys
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from moto.iam import access_control
from moto.server import main

_create = access_control.IAMRequestBase._create_aws_request


def _create_aws_request(self):
    request = _create(self)
    parts = urlsplit(request.url)
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        query = "&".join(quote(k, safe="-_.~") + "=" + quote(v, safe="-_.~") for k, v in pairs)
        request.url = urlunsplit(parts._replace(query=query))
    return request


access_control.IAMRequestBase._create_aws_request = _create_aws_request

if __name__ == "__main__":
    sys.exit(main())
