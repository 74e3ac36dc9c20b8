"""The admin site: Django's own, with every ModelAdmin hardened against hostile input.

`apps.StudioAdminConfig` takes the place of django.contrib.admin in INSTALLED_APPS and
makes `site.StudioAdminSite` the default site, so every ModelAdmin registered on
`admin.site` (ours, auth's, django-q's, any app's added later) gets `InputSafeAdmin`.
"""
