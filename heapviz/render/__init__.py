"""Rendering: the only code that knows DOT and Graphviz."""
