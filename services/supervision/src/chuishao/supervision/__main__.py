from chuishao.supervision.cli import main

if __name__ == "__main__":
    main()
