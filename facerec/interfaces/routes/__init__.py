"""The HTTP API's endpoints, one ``APIRouter`` per resource (the FastAPI template's
``api/routes/``): what they depend on is in facerec.interfaces.deps, how images arrive in
facerec.interfaces.uploads; create_app includes the routers."""
