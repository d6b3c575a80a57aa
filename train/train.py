"""Thin entry script for multi-GPU / multi-node training with torchrun, e.g.

    torchrun --nproc_per_node 8 train/train.py --data STORE --preset paper --cond text --device cuda --out runs/paper

It takes the same arguments as ``msdf train``; every process runs the same loop (DDP), rank 0 writes the run.
"""
import argparse
import sys

from msdf.commands import train as train_command

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="train/train.py", description=train_command.HELP)
    train_command.add_arguments(parser)
    sys.exit(train_command.run(parser.parse_args()))
