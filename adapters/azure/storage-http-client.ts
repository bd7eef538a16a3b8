import { createHttpHeaders, createPipelineRequest } from "@azure/core-rest-pipeline";
import type {
  FormDataMap,
  HttpClient,
  HttpHeaders as CoreHttpHeaders,
  RequestBodyType,
} from "@azure/core-rest-pipeline";
import type { HttpHeaders, HttpOperationResponse, IHttpClient, WebResource } from "@azure/storage-blob";

/**
 * Adapts a core-rest-pipeline HttpClient to the older `IHttpClient` that
 * `StoragePipelineOptions.httpClient` takes, so storage clients share ferry's HttpClient (and
 * its CA agent). storage-blob converts that IHttpClient back internally; the returned `request`
 * is the very WebResource it passed in, which it maps back to its own request.
 */
export function toStorageHttpClient(httpClient: HttpClient): IHttpClient {
  return {
    async sendRequest(resource: WebResource): Promise<HttpOperationResponse> {
      const request = createPipelineRequest({
        url: resource.url,
        method: resource.method,
        headers: createHttpHeaders(resource.headers.toJson({ preserveCase: true })),
        // storage-blob types these `any`; they hold what core-rest-pipeline sends.
        body: resource.body as RequestBodyType | undefined,
        formData: resource.formData as FormDataMap | undefined,
        abortSignal: resource.abortSignal,
        timeout: resource.timeout,
        withCredentials: resource.withCredentials,
        requestId: resource.requestId,
        streamResponseStatusCodes: resource.streamResponseStatusCodes,
        onUploadProgress: resource.onUploadProgress,
        onDownloadProgress: resource.onDownloadProgress,
        proxySettings: resource.proxySettings,
        agent: resource.agent,
        requestOverrides: resource.requestOverrides,
        // core-http-compat stores "disableKeepAlive" in "keepAlive" (inverted naming); mirror it.
        disableKeepAlive: !!resource.keepAlive,
        // Storage sends SAS-authorised requests to http endpoints too (Azurite); it allows this itself.
        allowInsecureConnection: true,
      });
      const response = await httpClient.sendRequest(request);
      const compat: HttpOperationResponse = {
        request: resource,
        status: response.status,
        headers: toHeadersLike(response.headers),
      };
      if (response.bodyAsText !== undefined) compat.bodyAsText = response.bodyAsText;
      if (response.readableStreamBody !== undefined) compat.readableStreamBody = response.readableStreamBody;
      if (response.blobBody !== undefined) compat.blobBody = response.blobBody;
      if (response.browserStreamBody !== undefined) compat.browserStreamBody = response.browserStreamBody;
      return compat;
    },
  };
}

function toHeadersLike(headers: CoreHttpHeaders): HttpHeaders {
  const like: HttpHeaders = {
    set: (name, value) => headers.set(name, value),
    get: (name) => headers.get(name),
    contains: (name) => headers.has(name),
    remove: (name) => {
      const had = headers.has(name);
      headers.delete(name);
      return had;
    },
    rawHeaders: () => headers.toJSON(),
    headersArray: () => [...headers].map(([name, value]) => ({ name, value })),
    headerNames: () => [...headers].map(([name]) => name),
    headerValues: () => [...headers].map(([, value]) => value),
    clone: () => toHeadersLike(createHttpHeaders(headers.toJSON({ preserveCase: true }))),
    toJson: (options) => headers.toJSON(options),
  };
  return like;
}
