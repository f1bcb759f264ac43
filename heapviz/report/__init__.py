"""Leak reports: collect once (collect.py), write as HTML (html.py) or PDF (pdf.py)."""
