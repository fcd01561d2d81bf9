"""`python -m deepfake_edge.app` runs the CLI."""
import sys

from deepfake_edge.app.cli import main

sys.exit(main())
