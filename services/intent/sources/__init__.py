"""Where intent signals are read from: job boards and company homepages."""
