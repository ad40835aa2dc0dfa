from fixative.cli import main

main()
