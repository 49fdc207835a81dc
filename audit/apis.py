"""JSON API of the audit area: the signed-in user's activity and background jobs (SPEC §6)."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics

from audit.selectors import activity_list, job_list
from audit.serializers import (
    ActivityFilterSerializer,
    ActivitySerializer,
    JobFilterSerializer,
    JobSerializer,
)


@extend_schema(tags=["activity"], parameters=[ActivityFilterSerializer])
class ActivityListApi(generics.ListAPIView):
    """What the signed-in user did, newest first."""

    serializer_class = ActivitySerializer

    def get_queryset(self):
        filters = ActivityFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return activity_list(user=self.request.user, **filters.validated_data)


@extend_schema(tags=["jobs"], parameters=[JobFilterSerializer])
class JobListApi(generics.ListAPIView):
    """The signed-in user's background jobs, newest first, with their progress."""

    serializer_class = JobSerializer

    def get_queryset(self):
        filters = JobFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return job_list(user=self.request.user, **filters.validated_data)


@extend_schema(tags=["jobs"])
class JobDetailApi(generics.RetrieveAPIView):
    """One of the signed-in user's background jobs."""

    serializer_class = JobSerializer
    lookup_url_kwarg = "id"

    def get_queryset(self):
        return job_list(user=self.request.user)
