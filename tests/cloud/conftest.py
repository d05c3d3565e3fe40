"""The ``cloud`` fixture: each test runs against the GCS emulator and against Azurite."""

from __future__ import annotations

import pytest

from tests.cloud.helpers import Cloud
from tests.conftest import CloudPrefix
from tests.servers import AzuriteServer, GcsEmulatorServer


def gcs_cloud(server: GcsEmulatorServer, bucket: CloudPrefix) -> Cloud:
    from gcsfs.core import GCSFileSystem

    fs = GCSFileSystem(token="anon", endpoint_url=server.endpoint, skip_instance_cache=True)
    return Cloud("gcs", bucket.url, bucket.env, fs)


def azure_cloud(server: AzuriteServer, container: CloudPrefix) -> Cloud:
    from adlfs import AzureBlobFileSystem

    fs = AzureBlobFileSystem(connection_string=server.connection_string, skip_instance_cache=True)
    return Cloud("azure", container.url, container.env, fs, secrets=(server.key,))


@pytest.fixture(
    params=[
        pytest.param("gcs", marks=pytest.mark.gcs),
        pytest.param("azure", marks=pytest.mark.azure),
    ]
)
def cloud(request: pytest.FixtureRequest) -> Cloud:
    """A fresh bucket (gs://) or container (az://) with the user's env set for this test."""
    if request.param == "gcs":
        return gcs_cloud(
            request.getfixturevalue("gcs_server"), request.getfixturevalue("gcs_bucket")
        )
    return azure_cloud(
        request.getfixturevalue("azurite_server"), request.getfixturevalue("azurite_container")
    )


@pytest.fixture
def gcs(gcs_server: GcsEmulatorServer, gcs_bucket: CloudPrefix) -> Cloud:
    return gcs_cloud(gcs_server, gcs_bucket)


@pytest.fixture
def azure(azurite_server: AzuriteServer, azurite_container: CloudPrefix) -> Cloud:
    return azure_cloud(azurite_server, azurite_container)
