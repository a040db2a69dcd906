"""Request and response models of the HTTP API (``*Request`` in, ``*Read``/``*Response`` out)."""
