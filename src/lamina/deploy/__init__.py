"""Deploys with boto3, to AWS or any Lambda-compatible endpoint (``lamina serve``, moto).

- :mod:`~lamina.deploy.settings`: what one deploy does (options over the project file over Lambda's
  defaults).
- :mod:`~lamina.deploy.packaging`: the function and layer zips a deploy uploads.
- :mod:`~lamina.deploy.function`: publish the layers, make sure of a role, create or update the function.
- :mod:`~lamina.deploy.deployer`: create or update one function, uploading only what changed, and roll
  back what a failed update changed.
- :mod:`~lamina.deploy.upload`: upload progress for boto3 calls that carry a zip;
  :mod:`~lamina.deploy.s3`: zips through S3, past the 50 MiB of a direct upload.
- :mod:`~lamina.deploy.session`: the boto3 session; :mod:`~lamina.deploy.remote_invoke`: ``lamina invoke
  --remote``.
- :mod:`~lamina.deploy.errors`: ``DeployError``, ``DeploySettingsError``, ``RemoteInvokeError``.
"""
