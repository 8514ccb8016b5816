"""What a project declares, read once for ``lamina serve`` and ``lamina deploy``.

- :mod:`~lamina.project.functions`: the project file's function tables (``[tool.lamina.functions.NAME]``)
  and their one schema, :data:`~lamina.project.functions.KEYS`: each key, who reads it, its type.
- :mod:`~lamina.project.sam`: SAM templates → the functions and routes ``lamina serve --template`` runs.
- :mod:`~lamina.project.intrinsics`: CloudFormation's short-form tags and a local resolver for them.
- :mod:`~lamina.project.apis`: API Gateway resources and events → routes; :mod:`~lamina.project.cdk`:
  a CDK cloud assembly's stacks; :mod:`~lamina.project.code`: a template's code as directories (zips
  unpacked, inline code written); :mod:`~lamina.project.overrides`: ``--parameter-overrides`` and
  ``--env-vars``.
- :mod:`~lamina.project.errors`: ``ProjectError`` and ``TemplateError``.
"""
