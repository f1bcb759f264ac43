"""heapviz: heap profiles to call graphs, leak reports and tables."""

__version__ = "0.1.0"
