from chuishao.console.app import serve
from chuishao.console.settings import ConsoleSettings


def main() -> None:
    serve(ConsoleSettings())


if __name__ == "__main__":
    main()
