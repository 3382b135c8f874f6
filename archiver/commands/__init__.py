"""CLI commands, one module per command (or command group).

Each module defines a click object named ``command``; ``archiver.cli`` lists the modules
in the order `archiver --help` shows them.
"""
