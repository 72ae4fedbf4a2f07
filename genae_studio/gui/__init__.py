"""The desktop studio (PyQt6 + pyqtgraph): the only part of genae-studio that imports Qt.

Start it with ``genae-studio`` (see ``app.run_studio``).
"""
