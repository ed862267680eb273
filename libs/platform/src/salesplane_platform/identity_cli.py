"""Print a signed bearer token for development: `salesplane-token --sub alice --roles rep`."""

from __future__ import annotations

import argparse
import os

from salesplane_platform.identity import KNOWN_ROLES, issue_token
from salesplane_platform.settings import auth_secret_from


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sub", default="admin", help="user id the token speaks for")
    parser.add_argument("--roles", default="admin", help=f"comma list among {sorted(KNOWN_ROLES)}")
    parser.add_argument("--ttl", type=int, default=8 * 3600, help="lifetime in seconds")
    options = parser.parse_args()
    roles = [r for r in options.roles.split(",") if r]
    if unknown := set(roles) - KNOWN_ROLES:
        parser.error(f"unknown roles {sorted(unknown)}")
    print(issue_token(auth_secret_from(os.environ), options.sub, roles, ttl_seconds=options.ttl))


if __name__ == "__main__":
    main()
