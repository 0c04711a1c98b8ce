from chuishao.router.app import main

if __name__ == "__main__":
    main()
