"""Call recordings: storage backends, the fetch job, playback and retention."""
