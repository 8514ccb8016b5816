"""Artifacts that are right for Lambda: function zips, lamina's runtime layer, and the ELF check.

The public interface (each raises ``lamina.artifacts.errors.BuildError`` with a one-line message):

- ``lamina.artifacts.bundle.build_function_zip(code, out, *, requirements, arch, python_version, os_name,
  report) -> Path``
- ``lamina.artifacts.layer.build_layer_zip(out, *, arch, python_dist, os_name, check, report) -> Path`` and
  ``compatible_runtimes(python_dist)``
- ``lamina.artifacts.elf_check.check_path(path, arch, os_name) -> list[ElfReport]``

Nothing is imported here, so ``lamina.artifacts.errors`` stays cheap for callers that only catch errors.
"""
