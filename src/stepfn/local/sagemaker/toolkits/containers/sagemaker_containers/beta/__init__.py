"""``sagemaker_containers.beta``: the toolkit's public face (``beta.framework``)."""
