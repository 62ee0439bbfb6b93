from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo and its synthetic data: `owabi synth` writes a leaked export with its truth, and `owabi
    demo` drives one synthetic incident through every other app. No app depends on this one."""

    name = "owabi.demo"
    label = "demo"
