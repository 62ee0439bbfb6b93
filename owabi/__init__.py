"""owabi: make things right with every person affected by a personal-data leak."""
