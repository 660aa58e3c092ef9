from crashplan.cli import main

main()
