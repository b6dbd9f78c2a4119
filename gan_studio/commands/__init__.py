"""The sub-commands of `gan-studio`: one module per family, each with ``add_arguments(sub)`` that adds its parser
and sets ``func``, the function that runs it.

Building the parser imports nothing heavy (no torch, numpy or Qt): each command imports the layers below it only
when it runs. This is the only package, with :mod:`gan_studio.cli`, that imports argparse.
"""
