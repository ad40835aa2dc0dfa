"""Views defined by Fixative: one read-only SELECT over a datastack's annotation tables, checked
with sqlglot (``check``), stored (``tables``, ``definitions``) and answered at any version, flat
copy or root-id history, and live at an instant (``query``)."""
