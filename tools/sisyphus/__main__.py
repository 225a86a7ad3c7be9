def main():
    print("sis")
if __name__ == "__main__":
    main()
