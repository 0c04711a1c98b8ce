from chuishao.points.app import main

if __name__ == "__main__":
    main()
