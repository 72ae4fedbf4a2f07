"""The studio's work without Qt: the tasks the studio runs in worker threads and what they
hand back. Tests and scripts reach them without a GUI; ``genae_studio.gui`` runs them in
workers and draws their results.
"""
