"""What the routes answer, computed from the stores: the routes parse the request and call these."""
