"""Grant events sent to the app's backend as Standard Webhooks: endpoints, signing, delivery."""
