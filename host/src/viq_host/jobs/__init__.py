"""Job orders (reading, writing, validation) and the job store."""
