"""The tools, resources and prompts the MCP conformance suite's server scenarios expect.

``@modelcontextprotocol/conformance`` (the version pinned in
tools/conformance/package-lock.json) describes, in each server scenario,
what the server under test must expose: tool ``test_simple_text`` returns a
text block, ``test_tool_with_progress`` reports 0, 50 and 100 of 100, prompt
``test_prompt_with_arguments`` substitutes ``arg1`` and ``arg2``, resource
``test://static-text`` is text/plain, and so on. This module is that server,
as a workspace's tool module, so that conformance.test.js can run the suite
through the Express endpoint against a real workspace process.
"""

import asyncio
import base64
import json

import mcp_types as types
from fastmcp import Context, FastMCP
from fastmcp.prompts import Message

#: A 1x1 red PNG.
PNG_BASE64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
)
#: A WAV file with a header and no samples.
WAV_BASE64 = base64.b64encode(
    b"RIFF" + (36).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
    + (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + (8000).to_bytes(4, "little")
    + (8000).to_bytes(4, "little") + (1).to_bytes(2, "little") + (8).to_bytes(2, "little")
    + b"data" + (0).to_bytes(4, "little")
).decode()

#: URIs subscribed with resources/subscribe, across sessions.
subscriptions: set[str] = set()


def _image() -> types.ImageContent:
    return types.ImageContent(type="image", data=PNG_BASE64, mime_type="image/png")


def _embedded(uri: str, text: str, mime_type: str = "text/plain") -> types.EmbeddedResource:
    return types.EmbeddedResource(
        type="resource",
        resource=types.TextResourceContents(uri=uri, mime_type=mime_type, text=text),
    )


#: The input schema scenario ``json-schema-2020-12`` expects listed as it is:
#: ``$schema``, ``$defs`` and ``additionalProperties`` kept (SEP-1613). The
#: server must not dereference schemas (``"dereferenceSchemas": false`` in
#: workspace.json, ``FastMCP(dereference_schemas=False)`` over stdio).
JSON_SCHEMA_2020_12 = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
    "additionalProperties": False,
}


def register(mcp: FastMCP) -> None:
    """Adds the conformance tools, resources, prompts, completion and subscriptions."""
    _register_tools(mcp)
    _register_schema_tool(mcp)
    _register_client_request_tools(mcp)
    _register_resources(mcp)
    _register_prompts(mcp)


def _register_tools(mcp: FastMCP) -> None:
    @mcp.tool
    def test_simple_text() -> list[types.ContentBlock]:
        """Returns a text block."""
        return [types.TextContent(type="text", text="This is a simple text response for testing.")]

    @mcp.tool
    def test_image_content() -> list[types.ContentBlock]:
        """Returns an image block (a 1x1 red PNG)."""
        return [_image()]

    @mcp.tool
    def test_audio_content() -> list[types.ContentBlock]:
        """Returns an audio block (an empty WAV)."""
        return [types.AudioContent(type="audio", data=WAV_BASE64, mime_type="audio/wav")]

    @mcp.tool
    def test_embedded_resource() -> list[types.ContentBlock]:
        """Returns an embedded text resource."""
        return [_embedded("test://embedded-resource", "This is an embedded resource content.")]

    @mcp.tool
    def test_multiple_content_types() -> list[types.ContentBlock]:
        """Returns a text, an image and an embedded resource block."""
        return [
            types.TextContent(type="text", text="Multiple content types test:"),
            _image(),
            _embedded("test://mixed-content-resource", json.dumps({"test": "data", "value": 123}), "application/json"),
        ]

    @mcp.tool
    async def test_tool_with_logging(ctx: Context) -> str:
        """Sends three info log messages, 50 ms apart."""
        await ctx.info("Tool execution started")
        await asyncio.sleep(0.05)
        await ctx.info("Tool processing data")
        await asyncio.sleep(0.05)
        await ctx.info("Tool execution completed")
        return "Tool with logging executed successfully"

    @mcp.tool
    async def test_tool_with_progress(ctx: Context) -> str:
        """Reports progress 0, 50 and 100 of 100, 50 ms apart."""
        await ctx.report_progress(0, 100)
        await asyncio.sleep(0.05)
        await ctx.report_progress(50, 100)
        await asyncio.sleep(0.05)
        await ctx.report_progress(100, 100)
        return "Tool with progress executed successfully"

    @mcp.tool
    def test_error_handling() -> str:
        """Always fails: the result has isError true."""
        raise RuntimeError("This tool intentionally returns an error for testing")


def _register_client_request_tools(mcp: FastMCP) -> None:
    @mcp.tool
    async def test_sampling(prompt: str, ctx: Context) -> str:
        """Asks the client to sample a reply to ``prompt`` (sampling/createMessage)."""
        result = await ctx.session.create_message(
            [types.SamplingMessage(role="user", content=types.TextContent(type="text", text=prompt))],
            max_tokens=100,
            related_request_id=ctx.request_id,
        )
        return f"LLM response: {result.content.text}"

    async def elicit(ctx: Context, message: str, schema: dict) -> str:
        result = await ctx.session.elicit_form(message, schema, related_request_id=ctx.request_id)
        return f"Elicitation completed: action={result.action}, content={json.dumps(result.content)}"

    @mcp.tool
    async def test_elicitation(message: str, ctx: Context) -> str:
        """Asks the client for a username and an email (elicitation/create)."""
        return await elicit(ctx, message, {
            "type": "object",
            "properties": {
                "username": {"type": "string", "description": "User's response"},
                "email": {"type": "string", "description": "User's email address"},
            },
            "required": ["username", "email"],
        })

    @mcp.tool
    async def test_elicitation_sep1034_defaults(ctx: Context) -> str:
        """Elicits a form whose fields all have defaults (SEP-1034)."""
        return await elicit(ctx, "Please review and update the form fields with defaults", {
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "User name", "default": "John Doe"},
                "age": {"type": "integer", "description": "User age", "default": 30},
                "score": {"type": "number", "description": "User score", "default": 95.5},
                "status": {
                    "type": "string",
                    "description": "User status",
                    "enum": ["active", "inactive", "pending"],
                    "default": "active",
                },
                "verified": {"type": "boolean", "description": "Verification status", "default": True},
            },
            "required": [],
        })

    @mcp.tool
    async def test_elicitation_sep1330_enums(ctx: Context) -> str:
        """Elicits a form with the five enum variants of SEP-1330."""
        return await elicit(ctx, "Please select options from the enum fields", {
            "type": "object",
            "properties": {
                "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
                "titledSingle": {
                    "type": "string",
                    "oneOf": [
                        {"const": "value1", "title": "First Option"},
                        {"const": "value2", "title": "Second Option"},
                        {"const": "value3", "title": "Third Option"},
                    ],
                },
                "legacyEnum": {
                    "type": "string",
                    "enum": ["opt1", "opt2", "opt3"],
                    "enumNames": ["Option One", "Option Two", "Option Three"],
                },
                "untitledMulti": {
                    "type": "array",
                    "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
                },
                "titledMulti": {
                    "type": "array",
                    "items": {
                        "anyOf": [
                            {"const": "value1", "title": "First Choice"},
                            {"const": "value2", "title": "Second Choice"},
                            {"const": "value3", "title": "Third Choice"},
                        ],
                    },
                },
            },
            "required": [],
        })


def _register_resources(mcp: FastMCP) -> None:
    @mcp.resource("test://static-text", mime_type="text/plain")
    def static_text() -> str:
        """A static text resource."""
        return "This is the content of the static text resource."

    @mcp.resource("test://static-binary", mime_type="image/png")
    def static_binary() -> bytes:
        """A static binary resource (a 1x1 red PNG)."""
        return base64.b64decode(PNG_BASE64)

    @mcp.resource("test://watched-resource", mime_type="text/plain")
    def watched_resource() -> str:
        """A resource clients may subscribe to."""
        return "Watched resource content."

    @mcp.resource("test://template/{id}/data", mime_type="application/json")
    def template_data(id: str) -> str:
        """Data for an id, from a resource template."""
        return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})

    # FastMCP 4 serves no resources/subscribe; the low-level MCP server does
    # once it has handlers, and then declares resources.subscribe.
    async def subscribe(_ctx, params: types.SubscribeRequestParams) -> types.EmptyResult:
        subscriptions.add(params.uri)
        return types.EmptyResult()

    async def unsubscribe(_ctx, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
        subscriptions.discard(params.uri)
        return types.EmptyResult()

    mcp._mcp_server.add_request_handler("resources/subscribe", types.SubscribeRequestParams, subscribe)
    mcp._mcp_server.add_request_handler("resources/unsubscribe", types.UnsubscribeRequestParams, unsubscribe)


def _register_prompts(mcp: FastMCP) -> None:
    @mcp.prompt
    def test_simple_prompt() -> str:
        """A prompt without arguments."""
        return "This is a simple prompt for testing."

    @mcp.prompt
    def test_prompt_with_arguments(arg1: str, arg2: str) -> str:
        """A prompt that substitutes its two arguments."""
        return f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"

    @mcp.prompt
    def test_prompt_with_embedded_resource(resourceUri: str) -> list[Message]:
        """A prompt that embeds the resource ``resourceUri``."""
        return [
            Message(_embedded(resourceUri, "Embedded resource content for testing.")),
            Message("Please process the embedded resource above."),
        ]

    @mcp.prompt
    def test_prompt_with_image() -> list[Message]:
        """A prompt with an image."""
        return [Message(_image()), Message("Please analyze the image above.")]

    @mcp.completion
    def complete(ref, argument, _context):
        """Completes the arguments of test_prompt_with_arguments from a fixed list."""
        if isinstance(ref, types.PromptReference) and ref.name == "test_prompt_with_arguments":
            return [value for value in ("paris", "park", "party") if value.startswith(argument.value)]
        return None


def _register_schema_tool(mcp: FastMCP) -> None:
    from fastmcp.tools import Tool

    def json_schema_2020_12_tool(name: str = "", address: dict[str, str] | None = None) -> str:
        """Tool with JSON Schema 2020-12 features."""
        return f"{name} at {json.dumps(address, sort_keys=True)}"

    tool = Tool.from_function(json_schema_2020_12_tool)
    mcp.add_tool(tool.model_copy(update={"parameters": JSON_SCHEMA_2020_12}))
