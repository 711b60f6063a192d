/**
 * Error answers of real OpenAI-compatible servers, replayed by test/faults/servers.test.ts.
 * Each records where its status and body come from, as read in that project's source (or,
 * where noted, in logs of the running server when the wording is assembled at run time).
 */
import { completion } from '../support/fake-openai-server.js';

export interface ServerReply {
  /** Project, file and function the status and body come from. */
  source: string;
  status: number;
  headers?: Record<string, string>;
  /** JSON bodies as objects; anything else as the exact text sent. */
  body: unknown;
  /** The words medcap must put in the image's error column. */
  message: string;
}

export const VLLM_CONTEXT_TOO_LONG: ServerReply = {
  source:
    'vLLM: ErrorResponse/ErrorInfo as built by create_error_response ' +
    '(vllm/entrypoints/serve/utils/error_response.py) from the VLLMValidationError its prompt-length ' +
    'check raises (param input_tokens); the wording as vLLM 0.19+ servers send it',
  status: 400,
  body: {
    error: {
      message:
        "This model's maximum context length is 4096 tokens. However, you requested 256 output tokens " +
        'and your prompt contains at least 3841 input tokens, for a total of at least 4097 tokens. ' +
        'Please reduce the length of the input prompt or the number of requested output tokens. ' +
        '(parameter=input_tokens, value=3841)',
      type: 'BadRequestError',
      param: 'input_tokens',
      code: 400,
    },
  },
  message: "HTTP 400: This model's maximum context length is 4096 tokens.",
};

export const SGLANG_CONTEXT_TOO_LONG: ServerReply = {
  source:
    "SGLang: the ValueError of TokenizerManager's request validation " +
    '(python/sglang/srt/managers/tokenizer_manager.py) in its older ErrorResponse shape ' +
    '{object: "error", message, type, param, code}, as the running server sends it',
  status: 400,
  body: {
    object: 'error',
    message: "The input (43028 tokens) is longer than the model's context length (40960 tokens).",
    type: 'BadRequestError',
    param: null,
    code: 400,
  },
  message: 'HTTP 400: The input (43028 tokens) is longer than the model',
};

export const LLAMACPP_CONTEXT_TOO_LONG: ServerReply = {
  source:
    'llama.cpp tools/server: format_error_response(ERROR_TYPE_EXCEED_CONTEXT_SIZE) ' +
    '(server-common.cpp) plus n_prompt_tokens/n_ctx (server_task_result_error::to_json), ' +
    'wrapped as {"error": ...} by res_err',
  status: 400,
  body: {
    error: {
      code: 400,
      message: 'the request exceeds the available context size, try increasing it',
      type: 'exceed_context_size_error',
      n_prompt_tokens: 4476,
      n_ctx: 4096,
    },
  },
  message: 'HTTP 400: the request exceeds the available context size, try increasing it',
};

export const IMAGE_NOT_LOADED: ServerReply = {
  source:
    "llama.cpp's server (mtmd) and Ollama when an image cannot be loaded: the message as those " +
    "running servers send it (quoted in their users' logs), in format_error_response's " +
    'ERROR_TYPE_INVALID_REQUEST shape (llama.cpp tools/server/server-common.cpp)',
  status: 400,
  body: {
    error: {
      code: 400,
      message: 'Failed to load image or audio file',
      type: 'invalid_request_error',
    },
  },
  message: 'HTTP 400: Failed to load image or audio file',
};

export const PROXY_BODY_TOO_LARGE: ServerReply = {
  source:
    "nginx in front of a server (client_max_body_size): its built-in 413 page, HTML, so the message is the page's text",
  status: 413,
  headers: { 'content-type': 'text/html' },
  body:
    '<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body>\r\n' +
    '<center><h1>413 Request Entity Too Large</h1></center>\r\n<hr><center>nginx</center>\r\n' +
    '</body>\r\n</html>\r\n',
  message: 'HTTP 413: 413 Request Entity Too Large 413 Request Entity Too Large nginx',
};

export const FIREWALL_FORBIDDEN: ServerReply = {
  source:
    'nginx in front of a server refusing a request (ModSecurity with the OWASP Core Rule Set ' +
    'matching a payload, or a deny rule): its built-in 403 page (ngx_http_error_403_page and ' +
    "ngx_http_error_tail in src/http/ngx_http_special_response.c), HTML, so the message is the page's text",
  status: 403,
  headers: { 'content-type': 'text/html' },
  body:
    '<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n' +
    '<center><h1>403 Forbidden</h1></center>\r\n<hr><center>nginx</center>\r\n' +
    '</body>\r\n</html>\r\n',
  message: 'HTTP 403: 403 Forbidden 403 Forbidden nginx',
};

export const OPENAI_MISSING_MODEL_READ: ServerReply = {
  source:
    "OpenAI's API answering GET /v1/models for a restricted API key without the Models read " +
    'permission (scope api.model.read), as quoted in client code and tests that handle it; ' +
    'such a key may still be allowed chat completions',
  status: 403,
  body: {
    error: {
      message:
        'You have insufficient permissions for this operation. Missing scopes: api.model.read.',
      type: 'invalid_request_error',
      param: null,
      code: null,
    },
  },
  message:
    'HTTP 403: You have insufficient permissions for this operation. Missing scopes: api.model.read.',
};

export function vllmUnknownModel(model: string): ServerReply {
  return {
    source:
      'vLLM: OpenAIModelRegistry.check_model (vllm/entrypoints/openai/models/serving.py): ' +
      'create_error_response(f"The model `{model_name}` does not exist.", "NotFoundError", 404, param="model")',
    status: 404,
    body: {
      error: {
        message: `The model \`${model}\` does not exist.`,
        type: 'NotFoundError',
        param: 'model',
        code: 404,
      },
    },
    message: `HTTP 404: The model \`${model}\` does not exist.`,
  };
}

export function ollamaUnknownModel(model: string): ServerReply {
  return {
    source:
      'Ollama: openai.NewError(404, ...) (openai/openai.go: type not_found_error, param and code null) ' +
      "around the server's model lookup error",
    status: 404,
    body: {
      error: {
        message: `model "${model}" not found, try pulling it first`,
        type: 'not_found_error',
        param: null,
        code: null,
      },
    },
    message: `HTTP 404: model "${model}" not found, try pulling it first`,
  };
}

export const LLAMACPP_LOADING: ServerReply = {
  source:
    'llama.cpp tools/server: the state middleware while SERVER_STATE_LOADING_MODEL answers ' +
    'format_error_response("Loading model", ERROR_TYPE_UNAVAILABLE) (server.cpp); /v1/models ' +
    'is let through while loading',
  status: 503,
  body: { error: { code: 503, message: 'Loading model', type: 'unavailable_error' } },
  message: 'HTTP 503: Loading model',
};

export const VLLM_ILLEGAL_MEMORY_ACCESS: ServerReply = {
  source:
    'vLLM: ErrorResponse as create_error_response (vllm/entrypoints/serve/utils/error_response.py) ' +
    'builds it for an exception raised while serving one request (500, InternalServerError); the ' +
    'message is the CUDA runtime error text as PyTorch raises it for an input that crashes a kernel',
  status: 500,
  body: {
    error: {
      message: 'CUDA error: an illegal memory access was encountered',
      type: 'InternalServerError',
      param: null,
      code: 500,
    },
  },
  message: 'HTTP 500: CUDA error: an illegal memory access was encountered',
};

export const LLAMACPP_NO_VISION: ServerReply = {
  source:
    'llama.cpp tools/server: the check for image input without a multimodal projector ' +
    '(server-common.cpp, oaicompat_chat_params_parse) raises ERROR_TYPE_NOT_SUPPORTED, which ' +
    'format_error_response turns into 501 not_supported_error',
  status: 501,
  body: {
    error: {
      code: 501,
      message:
        'image input is not supported - hint: if this is unexpected, you may need to provide the mmproj',
      type: 'not_supported_error',
    },
  },
  message: 'HTTP 501: image input is not supported',
};

export function rateLimited(retryAfter?: string): ServerReply {
  return {
    source:
      "OpenAI's API 429 (type requests, code rate_limit_exceeded), the shape hosted " +
      'OpenAI-compatible APIs and proxies copy; vLLM, SGLang and llama.cpp send no 429 themselves',
    status: 429,
    ...(retryAfter === undefined ? {} : { headers: { 'retry-after': retryAfter } }),
    body: {
      error: {
        message:
          'Rate limit reached for requests per min (RPM): Limit 60, Used 60, Requested 1. Please try again in 1s.',
        type: 'requests',
        param: null,
        code: 'rate_limit_exceeded',
      },
    },
    message: 'HTTP 429: Rate limit reached for requests per min',
  };
}

/** A 200 whose JSON is cut short (a proxy or a crashing worker truncating the answer). */
export function truncatedCompletion(model: string): string {
  const text = JSON.stringify(completion(model, 'a caption that never arrives whole'));
  return text.slice(0, Math.floor(text.length * 0.6));
}

/**
 * A 200 with empty `content`: a model that stops at once (finish_reason stop) or spends all
 * of max_tokens on output the server strips (reasoning; finish_reason length). Fields as a
 * vLLM chat completion carries them (reasoning_content, stop_reason); null content too.
 */
export function emptyCompletion(model: string, content: string | null, finishReason: string) {
  return {
    id: 'chatcmpl-empty',
    object: 'chat.completion',
    created: 0,
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content, reasoning_content: null, tool_calls: [] },
        logprobs: null,
        finish_reason: finishReason,
        stop_reason: null,
      },
    ],
    usage: { prompt_tokens: 310, total_tokens: 566, completion_tokens: 256 },
  };
}
