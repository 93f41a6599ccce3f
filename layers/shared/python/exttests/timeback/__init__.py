"""The TimeBack platform the service can read its roster from and enroll students on."""
