from chuishao.common.runtime import serve
from chuishao.notify.app import create_app


def main() -> None:
    serve(create_app().run())


if __name__ == "__main__":
    main()
