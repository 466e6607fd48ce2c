"""Tests of the documentation: every command of the user guide runs."""
