import { Field, Float, ObjectType } from "type-graphql";

@ObjectType({ description: "one file of a stored result" })
export class ArtifactFile {
  @Field({ description: "path inside the tar" })
  name: string;

  @Field(() => Float, { description: "size in bytes" })
  sizeBytes: number;
}

@ObjectType({ description: "the result of a training job stored at the gateway, once uploaded and verified" })
export class Artifact {
  @Field({ description: "gateway://<jobId>" })
  uri: string;

  @Field(() => Float, { description: "size of the tar, in bytes" })
  sizeBytes: number;

  @Field({ description: "hex SHA-256 of the tar; also its ETag" })
  sha256: string;

  @Field(() => [ArtifactFile], { description: "the files in the tar" })
  files: ArtifactFile[];

  @Field({ description: "when the result was stored" })
  createdAt: Date;

  @Field({ description: "signed, short-lived (15 minutes); GET streams the tar (application/x-tar)" })
  downloadUrl: string;
}
