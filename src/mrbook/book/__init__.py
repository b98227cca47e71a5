"""Book layer: execute the notebooks and render the HTML offline (build.py); sphinx.py serves its assets."""
