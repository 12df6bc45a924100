"""Load generator and side-by-side benchmark runs against other IRC servers."""
