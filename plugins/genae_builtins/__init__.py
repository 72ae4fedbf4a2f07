"""The built-in genae-studio plugins: VAE, DVAE, AAE, DAAE and the built-in datasets."""
