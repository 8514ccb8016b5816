"""FastAPI behind Mangum: the usual way an ASGI application runs on Lambda."""

import logging

from fastapi import FastAPI, HTTPException
from mangum import Mangum

app = FastAPI()


@app.get("/items/{item_id}")
def read_item(item_id: int, q: str = ""):
    logging.warning("read item %s", item_id)
    return {"item_id": item_id, "q": q}


@app.post("/items")
async def create_item(item: dict):
    return {"created": item}


@app.get("/missing")
def missing():
    raise HTTPException(status_code=404, detail="no such thing")


handler = Mangum(app, lifespan="off")
