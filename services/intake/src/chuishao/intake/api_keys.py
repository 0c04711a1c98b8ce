"""`python -m chuishao.intake.api_keys new <holder>`: make an API key and the hash to configure."""

import argparse
import json
import secrets

from chuishao.common.tokens import hash_api_key


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m chuishao.intake.api_keys")
    parser.add_argument("command", choices=["new"])
    parser.add_argument("holder", help="unit id, operator name or Open311 client name")
    args = parser.parse_args()
    key = secrets.token_urlsafe(32)
    print(f"key (give it to {args.holder}; it is not stored): {key}")
    print(f"add to the settings: {json.dumps({hash_api_key(key): args.holder})}")


if __name__ == "__main__":
    main()
