"""Report templates (jinja2), CSS and JS; installed as the package `heapviz.templates`."""
