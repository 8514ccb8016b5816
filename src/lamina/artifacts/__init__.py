"""Artifacts that are right for Lambda: function zips, lamina's runtime layer, and the ELF check.

- :mod:`~lamina.artifacts.bundle`: ``build_function_zip``, the code plus its dependencies;
  :mod:`~lamina.artifacts.dependencies` installs them as wheels for Lambda's platform and
  :mod:`~lamina.artifacts.bytecode` keeps their bytecode valid in a 1980-dated zip.
- :mod:`~lamina.artifacts.layer`: ``build_layer_zip`` and ``compatible_runtimes``, lamina's runtime as a
  layer; :mod:`~lamina.artifacts.layer_scripts` holds the shell scripts at its root.
- :mod:`~lamina.artifacts.elf_check`: ``check_path``, whether native files load on Lambda.
- :mod:`~lamina.artifacts.targets`: Lambda's architectures, operating systems and Pythons;
  :mod:`~lamina.artifacts.limits`: its size quotas; :mod:`~lamina.artifacts.zipper`: reproducible zips.
- :mod:`~lamina.artifacts.requirements`: which requirements a build installs;
  :mod:`~lamina.artifacts.index`: what the package index has, to say why no wheel fits;
  :mod:`~lamina.artifacts.cache`: builds and bytecode kept for the next build.
- :mod:`~lamina.artifacts.errors`: ``BuildError``, the one error type, a one-line message to show.

Nothing is imported here, so ``lamina.artifacts.errors`` stays cheap for callers that only catch errors.
"""
