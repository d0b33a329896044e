from common.service import serve
from projections.app import create_app
from projections.settings import ProjectionSettings

settings = ProjectionSettings.load()
serve(create_app(settings), settings, "projections")
