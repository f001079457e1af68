"""Recurrent engines, their introspection, the memory tasks and the training loop.

PyTorch and numpy only: nothing here imports Qt, so all of it runs headless (the GPU machine
has no Qt) and can be scripted.
"""
