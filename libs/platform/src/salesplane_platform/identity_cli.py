"""Print a signed bearer token for development: `salesplane-token --sub alice --roles rep`.

Only in SALESPLANE_ENV=development (what `make token` and `make run` set): elsewhere there is no
secret to sign with, by design; tokens come from the identity provider."""

from __future__ import annotations

import argparse
import os

from salesplane_platform.authentication import auth_settings_from
from salesplane_platform.errors import ConfigurationError
from salesplane_platform.identity import KNOWN_ROLES, ROLE_SERVICE, SERVICE_PREFIX, issue_token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sub", default="admin", help="user id the token speaks for")
    parser.add_argument("--roles", default="admin", help=f"comma list among {sorted(KNOWN_ROLES)}")
    parser.add_argument("--ttl", type=int, default=8 * 3600, help="lifetime in seconds")
    options = parser.parse_args()
    roles = [r for r in options.roles.split(",") if r]
    if unknown := set(roles) - KNOWN_ROLES:
        parser.error(f"unknown roles {sorted(unknown)}")
    if (ROLE_SERVICE in roles) != options.sub.startswith(SERVICE_PREFIX):
        parser.error(f"a service token is for a {SERVICE_PREFIX}<name> subject with the service role only")
    try:
        secret = auth_settings_from(os.environ).shared_secret
    except ConfigurationError as error:
        parser.error(str(error))
    if not secret:
        parser.error("development tokens need SALESPLANE_ENV=development")
    print(issue_token(secret, options.sub, roles, ttl_seconds=options.ttl))


if __name__ == "__main__":
    main()
