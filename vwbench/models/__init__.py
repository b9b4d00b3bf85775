"""Task-model adapters (generation, detection, classification) and the zoo that loads hub and tiny models."""
